"""A secret block as a flow uses one: saved, refused a second save without overwrite,
overwritten, loaded and read back; a JSON-valued secret too; and a notification block (what an
automation's send-notification action names), its webhook URL a secret. Prints what it read.
With the argument `load`, only loads them (as after a server restart)."""

import sys

from prefect import flow
from prefect.blocks.notifications import SlackWebhook
from prefect.blocks.system import Secret


@flow
def secret_flow():
    Secret(value="sk-first").save("api-key")
    try:
        Secret(value="sk-again").save("api-key")
    except ValueError as e:
        print("refused", e)
    Secret(value="sk-fg-7f3a9c").save("api-key", overwrite=True)
    Secret(value={"user": "u", "password": "p4ss"}).save("db-login")
    SlackWebhook(url="https://hooks.slack.com/services/T0/B0/hook-s3cret").save("alerts")
    hook = SlackWebhook.load("alerts").url.get_secret_value()
    return Secret.load("api-key").get(), Secret.load("db-login").get()["password"], hook


if __name__ == "__main__":
    if sys.argv[1:] == ["load"]:
        hook = SlackWebhook.load("alerts").url.get_secret_value()
        print("loaded", (Secret.load("api-key").get(), Secret.load("db-login").get(), hook))
    else:
        print("result", secret_flow())
