"""api: FastAPI routers, authentication and the application factory."""
