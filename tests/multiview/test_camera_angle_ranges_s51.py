"""Spherical camera files a user gets wrong in ways that used to curate silently (session 51 walkthrough):
degrees under "angle_unit": "radians" put a ring rendered at 20 degrees up at 66 degrees with its azimuths
scattered (30/120/210/300 read as 35/152/269/279), and an elevation of 110 (a polar angle mistaken for an
elevation) put each camera on the far side of the object. Both are refused as unparsable camera files."""

import json
import math

import pytest

from encoders.cameras import CameraFileError, parse_cameras, spherical_of

AZIMUTHS = (30.0, 120.0, 210.0, 300.0)


def _doc(elevation: float, azimuths=AZIMUTHS, **extra) -> bytes:
    views = [{"file": f"{i}.png", "elevation": elevation, "azimuth": az, "radius": 1.0} for i, az in enumerate(azimuths)]
    return json.dumps({"convention": "spherical", "views": views, **extra}).encode()


def test_degrees_under_angle_unit_radians_are_refused():
    with pytest.raises(CameraFileError, match=r'"angle_unit": "radians", but the angles look like degrees \(azimuths up to 300, '
                                              r'elevations up to 20; .*remove "angle_unit"'):
        parse_cameras(_doc(20.0, angle_unit="radians"))


def test_an_azimuth_in_degrees_alone_is_enough_to_refuse_radians():
    with pytest.raises(CameraFileError, match="look like degrees"):
        parse_cameras(_doc(0.0, angle_unit="radians"))


def test_true_radians_are_still_read():
    cams = parse_cameras(_doc(math.radians(20), [math.radians(a) for a in AZIMUTHS], angle_unit="radians"))
    assert [round(spherical_of(c, cams.centre)[0], 6) for c in cams.cameras] == pytest.approx([20.0] * 4)


@pytest.mark.parametrize("elevation", [110.0, -91.0])
def test_an_elevation_beyond_the_poles_is_refused(elevation):
    with pytest.raises(CameraFileError, match=rf"view 0 \(0.png\): elevation {elevation:g} degrees is outside -90..90.*polar angle"):
        parse_cameras(_doc(elevation))


@pytest.mark.parametrize("elevation", [90.0, -90.0, 89.5])
def test_elevations_up_to_the_poles_are_kept(elevation):
    cams = parse_cameras(_doc(elevation, azimuths=(0.0, 90.0)))
    assert spherical_of(cams.cameras[0], cams.centre)[0] == pytest.approx(elevation)
