"""Pydantic models of the API's requests and answers, with OpenAPI examples; one module per resource."""
