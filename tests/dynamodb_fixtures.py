"""DynamoDB Local fixtures (placeholder: filled in by the stores work)."""
