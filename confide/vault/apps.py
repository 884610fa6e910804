from django.apps import AppConfig


class VaultConfig(AppConfig):
    name = "confide.vault"
    label = "vault"
    verbose_name = "Vault"

    def ready(self) -> None:
        from tink import aead, streaming_aead

        aead.register()
        streaming_aead.register()
        from confide.vault import checks  # noqa: F401
