"""The channel layer and the runtime primitives every interface and worker share."""
