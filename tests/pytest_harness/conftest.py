# The harness's pytest fixture (`flowgate_harness`), as a user's conftest.py would bring it in.
pytest_plugins = ["flowgate_server.testing"]
