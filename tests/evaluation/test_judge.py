import numpy as np
import torch
from PIL import Image

from evaluation.image.judge import digit_label, train_judge
from evaluation.image.render import save_grid, to_uint8


def test_digit_label_reads_the_caption():
    assert digit_label("a handwritten digit 7 (seven), thin strokes") == 7
    assert digit_label("a large red circle on a black background") is None


def test_judge_learns_real_digits():
    from sklearn.datasets import load_digits

    from preprocess.image.demo_corpus import _upscale_digit

    d = load_digits()
    imgs = np.stack([np.asarray(_upscale_digit(x)) for x in d.images[:600]]).astype(np.float32) / 127.5 - 1
    x = torch.from_numpy(imgs)[:, None, None].repeat(1, 3, 1, 1, 1)  # [N, 3, 1, 32, 32]
    report = train_judge(x, torch.from_numpy(d.target[:600]), steps=150)
    assert report.test_accuracy > 0.85 and report.num_test == 150


def test_grid_has_one_tile_per_sample(tmp_path):
    lat = torch.zeros(6, 3, 1, 8, 8)
    lat[1] = 1.0
    png, txt = save_grid([to_uint8(x.numpy())[0] for x in lat], [f"c{i}" for i in range(6)], tmp_path / "g.png", cols=4, upscale=1)
    img = np.asarray(Image.open(png))
    assert img.shape == (2 * 10, 3 * 10, 3)  # two rows either way: 3 + 3, not 4 + 2 beside two empty cells
    assert img[1:9, 11:19].min() == 255 and img[1:9, 1:9].max() == 128  # tile 1 white, tile 0 mid-grey
    assert txt.read_text().splitlines()[5] == "1,2: c5"
    png, _ = save_grid([to_uint8(x.numpy())[0] for x in torch.zeros(8, 3, 1, 8, 8)], ["c"] * 8, tmp_path / "h.png", cols=4, upscale=1)
    assert np.asarray(Image.open(png)).shape == (2 * 10, 4 * 10, 3)


def test_grid_takes_samples_of_different_sizes(tmp_path):
    lat = [torch.ones(3, 1, 8, 8), torch.ones(3, 1, 4, 8)]
    png, _ = save_grid([to_uint8(x.numpy())[0] for x in lat], ["a", "b"], tmp_path / "g.png", cols=2, upscale=1)
    img = np.asarray(Image.open(png))
    assert img.shape == (10, 20, 3)
    assert img[1:5, 11:19].min() == 255 and img[5:9, 11:19].max() == 0  # the short one leaves black below
