"""Grid, cube, harm weights and the features models read from the cube."""

if __name__ != "hotspot.features":  # the folder is installed as hotspot.features only
    raise ImportError(f"import this package as hotspot.features, not as {__name__}: "
                      "install the project (pip install .) and use the hotspot namespace")

