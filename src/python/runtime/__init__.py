"""What every running service shares, below its Nameko extensions: settings, the shape of
expected errors, JSON logs and request ids."""
