from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "confide.directory"
    label = "directory"
    verbose_name = "Directory and website"
