"""S3 Assistant: command line, settings and the offline guard shared by every stage."""

from s3assist.offline import enforce_offline

enforce_offline()

__version__ = "0.1.0"
