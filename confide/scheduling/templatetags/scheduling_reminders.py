"""`{% appointment_reminders appointment as rows %}`: the appointment page's reminder rows
(confide/scheduling/reminders.py reminder_rows), so the fragment needs only `appointment`."""

from django import template

register = template.Library()


@register.simple_tag
def appointment_reminders(appointment):
    from confide.scheduling.reminders import reminder_rows

    return reminder_rows(appointment) if appointment is not None else []
