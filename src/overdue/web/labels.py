"""Visible labels defined in code (marked with N_ so Babel extracts them; translated when shown)."""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


ROLE_NAMES = {
    "admin": N_("Administrator"),
    "manager": N_("Manager"),
    "analyst": N_("Analyst"),
    "collector": N_("Collector"),
    "agency": N_("Agency"),
    "customer_service": N_("Customer service"),
    "auditor": N_("Auditor"),
}
ERROR_TITLES = {
    400: N_("Bad request"),
    401: N_("Please sign in"),
    403: N_("Not allowed"),
    404: N_("Not found"),
    405: N_("Not allowed"),
    422: N_("Bad request"),
    429: N_("Too many attempts"),
    500: N_("Server error"),
}
ERROR_TEXTS = {
    400: N_("The request could not be understood. Check the form and try again."),
    401: N_("Your session has ended. Please sign in again."),
    403: N_("Your role does not allow you to see or change this."),
    404: N_("There is nothing at this address."),
    405: N_("This action is not available here."),
    422: N_("The request could not be understood. Check the form and try again."),
    429: N_("Too many attempts. Wait a minute and try again."),
    500: N_("Something went wrong on our side."),
}
CASE_STATUS = {"open": N_("Open"), "paused": N_("Paused"), "closed": N_("Closed")}
PROMISE_STATUS = {
    "pending": N_("Pending"),
    "kept": N_("Kept"),
    "broken": N_("Broken"),
    "cancelled": N_("Cancelled"),
}
CHANNEL_NAMES = {
    "push": N_("App push"),
    "sms": N_("SMS"),
    "email": N_("E-mail"),
    "voice_robot": N_("Voice robot"),
    "voice_agent": N_("Phone call"),
    "letter": N_("Letter"),
    "field_visit": N_("Field visit"),
    "agency": N_("Agency"),
    "legal": N_("Legal"),
}
TRANSFER_REASONS = {
    "dispute": N_("Dispute"),
    "hardship": N_("Hardship"),
    "fraud": N_("Suspected fraud"),
    "legal": N_("Legal"),
    "other": N_("Other"),
}
LOGIN_ERRORS = {
    401: N_("Wrong username or password."),
    429: N_("Too many wrong passwords. Wait a minute and try again."),
    403: N_("The sign-in form expired. Please try again."),
}
SEVERITY = {"info": N_("Information"), "warning": N_("Warning"), "critical": N_("Critical")}
OUTCOME_NAMES = {
    "no_answer": N_("No answer"),
    "busy": N_("Busy"),
    "wrong_number": N_("Wrong number"),
    "left_message": N_("Left a message"),
    "promise_to_pay": N_("Promise to pay"),
    "refused_to_pay": N_("Refused to pay"),
    "paid_already": N_("Says already paid"),
    "dispute": N_("Dispute"),
    "hardship": N_("Hardship"),
    "callback": N_("Call back later"),
    "third_party": N_("Third party answered"),
    "delivered": N_("Delivered"),
    "failed": N_("Failed"),
    "other": N_("Other"),
}
TIMELINE_KINDS = {
    "contact": N_("Contact"),
    "promise": N_("Promise"),
    "note": N_("Note"),
    "transfer": N_("Transfer"),
    "payment": N_("Payment"),
    "reversal": N_("Payment reversed"),
    "assignment": N_("Assignment"),
    "placement": N_("Agency placement"),
    "status": N_("Status"),
}
CASE_EVENTS = {
    "opened": N_("Case opened"),
    "updated": N_("Case updated"),
    "bucket_changed": N_("Bucket changed"),
    "paused": N_("Collection paused"),
    "resumed": N_("Collection resumed"),
    "closed": N_("Case closed"),
    "reopened": N_("Case reopened"),
}
CUSTOMER_FLAGS = {
    "do_not_contact": N_("Do not contact"),
    "dispute": N_("Dispute"),
    "hardship": N_("Hardship"),
    "vulnerable": N_("Vulnerable customer"),
    "deceased": N_("Deceased"),
    "bankruptcy": N_("Bankruptcy"),
    "cease_communication": N_("Cease communication"),
}
FLASH = {
    "outcome": N_("The call outcome was saved."),
    "promise": N_("The promise was recorded."),
    "note": N_("The note was added."),
    "transfer": N_("The case was transferred."),
    "user": N_("The user was saved."),
    "queue": N_("The queue was saved."),
}
SORT_NAMES = {
    "priority": N_("Priority"),
    "dpd": N_("Days past due"),
    "balance": N_("Balance"),
    "sla": N_("SLA due"),
    "promise": N_("Promise due"),
}
PRODUCTS = {"revolving": N_("Revolving bill"), "installment": N_("Installment loan")}
LANGUAGE_LABELS = {"zh-CN": N_("Chinese"), "en": N_("English")}
TEAM_KINDS = {
    "collection": N_("Collection"),
    "customer_service": N_("Customer service"),
    "risk": N_("Risk"),
    "legal": N_("Legal"),
    "agency": N_("Agency"),
}
# the compliance gate's rules (overdue.compliance.gate.RULES), as people read them
BLOCK_RULES = {
    "deceased": N_("the customer is deceased"),
    "bankruptcy": N_("the customer is in bankruptcy"),
    "do_not_contact": N_("the customer must not be contacted"),
    "cease_communication": N_("the customer asked us to stop contacting them"),
    "dispute": N_("the debt is disputed: collection is paused"),
    "opt_out": N_("the customer opted out of this channel"),
    "vulnerable": N_("vulnerable customer: friendly messages or a human agent only"),
    "hardship": N_("hardship: friendly contacts only, no visits, agencies or legal steps"),
    "third_party_debt": N_("a third party may not be told about the debt"),
    "quiet_hours": N_("quiet hours in the customer's local time"),
    "third_party_locate_only": N_("third parties only to locate a debtor who cannot be reached"),
    "post_conversation": N_("no call within 7 days of a conversation about this debt"),
    "seven_in_seven": N_("at most 7 call attempts in 7 days for this debt"),
    "daily_connected_cap": N_("the daily limit of connected calls is reached"),
    "unanswered_cap": N_("the daily limit of unanswered calls to this number is reached"),
}

# The customer's self-service page (web/self_service.py)
SELF_SERVICE_DONE = {
    "promise": N_("Thank you. Your promise to pay is recorded; we will remind you a day before."),
    "help": N_(
        "Thank you. Your request went to our customer care team. Collection on this account is "
        "paused while they look at it, and they will contact you soon."
    ),
    "stop": N_("Done. We will not contact you through this channel any more."),
    "hours": N_("Done. We will only contact you within these hours."),
    "complaint": N_("Your complaint is registered. We will answer within 15 days."),
}
SELF_SERVICE_FAILED = {
    "promised": N_("Please choose a date from today up to the latest date shown."),
    "amount": N_("Please enter an amount above zero, with at most two decimals."),
    "hours": N_("Please choose hours inside the allowed hours, at least one hour long."),
    "text": N_("Your message is too long. Please shorten it."),
    "limit": N_("You have made many changes today. Please try again tomorrow or call us."),
    "closed": N_("This account is already settled or handed over. Please call us."),
    "other": N_("That did not work. Please check the form and try again, or call us."),
}
SELF_SERVICE_HELP = {
    "hardship": N_("I cannot pay now: I need an installment plan or more time"),
    "dispute": N_("The amount is wrong"),
    "fraud": N_("This is not my account"),
}
COMPLAINT_CATEGORIES = {
    "harassment": N_("I was harassed or threatened"),
    "too_many_contacts": N_("You contact me too often"),
    "third_party_contact": N_("You contacted my family, friends or employer"),
    "rudeness": N_("A collector was rude"),
    "wrong_amount": N_("The amount you ask for is wrong"),
    "privacy": N_("My personal data was misused"),
    "other": N_("Something else"),
}
