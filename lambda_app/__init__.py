"""The users service: a FastAPI app for AWS Lambda."""
