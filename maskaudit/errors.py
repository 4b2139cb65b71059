"""The one exception family raised for users.

Every message names the input at fault and says how to fix it.
"""


class MaskauditError(Exception):
    """Base class of every error maskaudit raises for a user to act on."""


class DataError(MaskauditError):
    """A benchmark file, entry or field is missing or malformed."""


class InputError(MaskauditError):
    """A frame, mask, audio window or expression cannot be used as given."""


class BundleError(MaskauditError):
    """A model bundle is missing, tampered with, or of another format version."""


class BackendError(MaskauditError):
    """A backend cannot be loaded on this machine."""


class ConfigError(MaskauditError):
    """A command-line option or configuration value is invalid."""
