"""Blocks as `prefect block` commands find them: a Secret and a notification block saved by
name, a block type of the program's own (not one of Prefect's) with a secret field, and an
anonymous document (saved without a name, as Prefect saves a block a run made on the fly),
and a block holding another block (a nested reference), loaded back whole."""

from prefect.blocks.core import Block
from prefect.blocks.notifications import SlackWebhook
from prefect.blocks.system import Secret
from pydantic import SecretStr


class WarehouseLogin(Block):
    """A login of this project's own."""

    user: str
    password: SecretStr


class Warehouse(Block):
    """A block with a block inside: saved as a reference to the login's document."""

    host: str
    login: WarehouseLogin


if __name__ == "__main__":
    Secret(value="sk-setup").save("api-key")
    SlackWebhook(url="https://hooks.slack.com/services/T0/B0/setup").save("alerts")
    WarehouseLogin(user="ana", password="pw-setup").save("warehouse")
    print("anonymous", Secret(value="sk-anonymous")._save_sync(is_anonymous=True))
    print("loaded", WarehouseLogin.load("warehouse").password.get_secret_value())
    Warehouse(host="db.internal", login=WarehouseLogin.load("warehouse")).save("main")
    w = Warehouse.load("main")
    print("nested", w.host, w.login.user, w.login.password.get_secret_value())
