from typing import Any

from tests.conftest import signed_in


def test_each_role_reaches_its_home(personas: dict[str, Any]) -> None:
    for name in ["client_a", "therapist_x", "admin"]:
        client = signed_in(personas[name])
        response = client.get("/")
        assert response.status_code == 200, name
