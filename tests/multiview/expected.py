"""What curation must make of each bad input the multi-view demo corpus plants: kind -> (status, reason kind)."""

EXPECTED = {
    "missing_view": ("rejected", "views_present"),
    "view_other_size": ("rejected", "view_size"),
    "non_orthonormal_rotation": ("rejected", "rotation_orthonormal"),
    "blank_render": ("rejected", "view_fill"),
    "duplicated_view": ("rejected", "distinct_views"),
    "bad_camera_file": ("quarantined", "camera_file_unparsable"),
    "camera_off_target": ("rejected", "camera_look_at"),
    "same_object_other_folder": ("rejected", "phash_dedup"),
}
