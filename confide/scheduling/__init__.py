"""The practice's calendar (issue 16): locations and rooms, appointment types, clinicians'
working hours, appointments and their series, blocked time; reminders through the messaging
send gate; the Google Calendar busy blocks (displayed, never stored); the private iCalendar feed.
"""
