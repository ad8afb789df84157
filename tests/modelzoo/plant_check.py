"""Plant each bug the modelzoo tests guard against, run the test that names it, restore the file.

    .venv/bin/python tests/modelzoo/plant_check.py [substring of a bug name ...]

Every line must read FAILS (good). Not collected by pytest (it edits the source tree while it runs).
"""
import subprocess, sys, shutil, os
os.chdir(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PLANTS = [
  ("target sign, tensor path", "modelzoo/transport/flow_matching.py", "(v.float() - (x1 - x0).float())", "(v.float() - (x0 - x1).float())",
   "tests/modelzoo/test_transport.py::test_training_target_is_the_velocity_from_noise_to_data"),
  ("target sign, list path", "modelzoo/transport/flow_matching.py", "(vi.float() - (a - b).float())", "(vi.float() - (b - a).float())",
   "tests/modelzoo/test_transport.py::test_training_target_is_the_velocity_from_noise_to_data"),
  ("RoPE on caption keys", "modelzoo/flag_dit.py", "            yk = self._heads(self.ky_norm, yk, self.n_kv_heads).to(dtype).transpose(1, 2)",
   "            yk = apply_rope(self._heads(self.ky_norm, yk, self.n_kv_heads), ctx.freqs_cis[:, :yk.shape[1]]).to(dtype).transpose(1, 2)",
   "tests/modelzoo/test_model.py::test_caption_keys_get_no_rope"),
  ("tanh removed from the gate", "modelzoo/flag_dit.py", "self.gate.tanh().to(output.dtype)", "self.gate.to(output.dtype)",
   "tests/modelzoo/test_model.py::test_cross_attention_gate_is_bounded_by_tanh"),
  ("style keys rotated with the target's positions", "modelzoo/flag_dit.py", "            k_freqs = ctx.key_freqs", "            k_freqs = torch.cat([ctx.freqs_cis, ctx.freqs_cis], dim=1)",
   "tests/modelzoo/test_techniques.py::test_style_sharing_gives_the_reference_positions_of_its_own"),
  ("axial scale from the total token count", "modelzoo/flag_dit.py", "frame_tokens = torch.tensor([h * (w + sep) for _, h, w in layout.grids]",
   "frame_tokens = torch.tensor([T * h * (w + sep) for T, h, w in layout.grids]",
   "tests/modelzoo/test_rope.py::test_axial_scales_are_per_axis_and_ignore_frames"),
  ("a third of each head to frames for images", "modelzoo/config.py", "        if not self.axial_frames:  # images", "        if False:  # images",
   "tests/modelzoo/test_rope.py::test_default_axial_split_suits_images"),
  ("RMSNorm statistics in the input dtype", "modelzoo/flag_dit.py", "        stat = torch.promote_types(x.dtype, torch.float32)", "        stat = x.dtype",
   "tests/modelzoo/test_model.py::test_rmsnorm_statistics_are_fp32_in_a_pure_bf16_model"),
  ("proportional attention without train_seq_len", "modelzoo/flag_dit.py", "            if n_train is None:", "            if False:",
   "tests/modelzoo/test_rope.py::test_proportional_attention_without_train_seq_len_says_so"),
  ("one region per token (first mask wins)", "modelzoo/flag_dit.py", "            reg = reg.reshape(n_regions, -1, *reg.shape[-2:]).expand(-1, T, -1, -1)  # (R, T, H, W)",
   "            reg = reg & (reg.cumsum(0) == 1)\n            reg = reg.reshape(n_regions, -1, *reg.shape[-2:]).expand(-1, T, -1, -1)  # (R, T, H, W)",
   "tests/modelzoo/test_techniques.py::test_overlapping_regions_each_see_their_own_caption"),
  ("no watershed (always the smooth blend)", "modelzoo/rope.py", "    elif scaling is RopeScaling.TIME_AWARE and watershed is not None:", "    elif scaling is RopeScaling.TIME_AWARE and False:",
   "tests/modelzoo/test_rope.py::test_watershed_switches_from_interpolation_to_ntk"),
  ("gradient checkpointing ignored", "modelzoo/flag_dit.py", "            if cfg.grad_checkpointing and self.training", "            if cfg.grad_checkpointing and False and self.training",
   "tests/modelzoo/test_model.py::test_gradient_checkpointing_recomputes_blocks_and_gives_the_same_gradients"),
  ("JSON patch pair left a list", "modelzoo/config.py", "            self.patch_size = (ph, pw)", "            pass",
   "tests/modelzoo/test_params.py::test_every_preset_survives_a_json_round_trip"),
  ("old config.json read with today's defaults", "modelzoo/config.py", "        if int(d.get(\"format_version\", FORMAT_VERSION)) < 2:", "        if False:",
   "tests/modelzoo/test_params.py::test_version_1_configs_keep_the_behaviour_they_were_trained_with"),
  ("official wk/wv swapped in the fused qkv", "modelzoo/official.py", "torch.cat([state[a + \"wq.weight\"], state[a + \"wk.weight\"], state[a + \"wv.weight\"]])",
   "torch.cat([state[a + \"wq.weight\"], state[a + \"wv.weight\"], state[a + \"wk.weight\"]])",
   "tests/modelzoo/test_official.py::test_converted_model_reproduces_the_public_forward"),
  ("official sigma half kept instead of the prediction", "modelzoo/official.py", "[:, :, :C].flatten(0, 2)", "[:, :, C:].flatten(0, 2)",
   "tests/modelzoo/test_official.py::test_converted_model_reproduces_the_public_forward"),
  ("frame_cond skips the [nextline] tokens", "modelzoo/flag_dit.py", "            emb = emb.repeat_interleave(per_frame, dim=0)  # (N_i, D)",
   "            emb = emb.repeat_interleave(per_frame, dim=0)  # (N_i, D)\n            emb = emb * (torch.arange(len(emb)) % (w + sep) != w).unsqueeze(-1)",
   "tests/modelzoo/test_model.py::test_frame_cond_is_added_to_every_token_of_its_frame"),
]
only = sys.argv[1:] 
for name, path, old, new, test in PLANTS:
    if only and not any(o in name for o in only):
        continue
    src = open(path).read()
    assert src.count(old) == 1, (name, src.count(old))
    backup = src
    try:
        open(path, "w").write(src.replace(old, new))
        r = subprocess.run([".venv/bin/python", "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", test],
                           capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
        last = r.stdout.strip().splitlines()[-1]
        print(f"{'FAILS (good)' if r.returncode else 'PASSES (BAD)'} | {name} | {test.split('::')[1]} | {last}")
    finally:
        open(path, "w").write(backup)
