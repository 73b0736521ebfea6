"""S3 Observatory: strategy priorities, their taxonomy labels, human review and partner search."""
