"""One module per area, each exposing ``router = APIRouter(...)``; ``create_app`` includes them all."""
