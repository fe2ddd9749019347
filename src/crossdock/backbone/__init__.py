"""crossdock.backbone."""
