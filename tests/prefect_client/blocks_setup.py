"""Blocks as `prefect block` commands find them: a Secret and a notification block saved by
name, a block type of the program's own (not one of Prefect's) with a secret field, and an
anonymous document (saved without a name, as Prefect saves a block a run made on the fly)."""

from prefect.blocks.core import Block
from prefect.blocks.notifications import SlackWebhook
from prefect.blocks.system import Secret
from pydantic import SecretStr


class WarehouseLogin(Block):
    """A login of this project's own."""

    user: str
    password: SecretStr


if __name__ == "__main__":
    Secret(value="sk-setup").save("api-key")
    SlackWebhook(url="https://hooks.slack.com/services/T0/B0/setup").save("alerts")
    WarehouseLogin(user="ana", password="pw-setup").save("warehouse")
    print("anonymous", Secret(value="sk-anonymous")._save_sync(is_anonymous=True))
    print("loaded", WarehouseLogin.load("warehouse").password.get_secret_value())
