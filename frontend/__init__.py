"""The widget's templates, scripts, styles and string catalogs (served by webapp/)."""
