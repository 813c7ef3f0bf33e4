"""What the touch app says when something goes wrong, and what a print job's state is called.

Every text is an English msgid marked with ``N_`` here and translated where it is shown, in
the resident's language (``kiosk/touch/translations``). An API error message keeps its
documented form, "<Simplified Chinese> / <English>": the Chinese for residents, the English
for whoever reads logs or integrates. Every text says what happened and what to do next,
never how the code failed.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.protocol.messages import PrintResult
from kiosk.touch.i18n import DEFAULT, N_, gettext, in_language


@dataclass(frozen=True, slots=True)
class Problem:
    """An error the app answers with: its code, HTTP status and msgids."""

    code: str
    status: int
    message: str  # the English msgid of the one-line message
    title: str = ""  # a shorter heading for the page, when the message is too long for one
    advice: str = ""  # a second, calmer line for the page (what to do next)

    def api_message(self, detail: str = "") -> str:
        with in_language(DEFAULT):
            chinese = gettext(self.message)
        english = f"{self.message} {detail}".strip()
        return f"{chinese} / {english}"

    def heading(self) -> str:
        """The page's heading, in the resident's language."""
        return gettext(self.title or self.message)

    def advice_text(self) -> str:
        return gettext(self.advice) if self.advice else ""


_GO_TO_THE_DESK = N_(
    "Please go to the service desk: the staff will give you a ticket by hand. "
    "We are sorry for the trouble."
)

BAD_JSON = Problem("bad_json", 400, N_("The request body must be a JSON object."))
BAD_REQUEST = Problem("bad_request", 400, N_("The request is not valid:"))
FORM_EXPIRED = Problem(
    "form_expired", 400, N_("This page has expired; please go back to the start and choose again.")
)
FORBIDDEN_ORIGIN = Problem("forbidden_origin", 403, N_("Requests from other sites are refused."))
NOT_FOUND = Problem("not_found", 404, N_("There is no such page."))
UNKNOWN_SERVICE = Problem(
    "unknown_service", 404, N_("This centre offers no such service; please choose again.")
)
UNKNOWN_TICKET = Problem(
    "unknown_ticket", 404, N_("This kiosk issued no such ticket; please look at your slip.")
)
UNKNOWN_PRINT_JOB = Problem("unknown_print_job", 404, N_("This kiosk sent no such print job."))
METHOD_NOT_ALLOWED = Problem("method_not_allowed", 405, N_("This method is not allowed here."))
TOO_LARGE = Problem("too_large", 413, N_("The request body is too large."))
UNSUPPORTED_MEDIA_TYPE = Problem(
    "unsupported_media_type", 415, N_("Send the body as application/json.")
)
HTTP_ERROR = Problem("http_error", 400, N_("The request could not be completed."))
INTERNAL = Problem(
    "internal",
    500,
    N_("Something went wrong; please ask at the service desk."),
    title=N_("Something went wrong for a moment"),
    advice=N_("Please ask the staff at the service desk. We are sorry for the trouble."),
)
HUB_ERROR = Problem(
    "hub_error",
    502,
    N_("The service centre could not issue a ticket; please ask at the service desk."),
    title=N_("No tickets at the moment"),
    advice=_GO_TO_THE_DESK,
)
HUB_UNREACHABLE = Problem(
    "hub_unreachable",
    503,
    N_(
        "The service centre cannot be reached right now; "
        "please ask at the service desk for a ticket."
    ),
    title=N_("The service centre cannot be reached right now"),
    advice=_GO_TO_THE_DESK,
)

# What the ticket page and GET /api/print-jobs/<id> say for each state of a print job.
PRINT_STATUS_TEXT: dict[str, str] = {
    "pending": N_("Printing…"),
    "spooled": N_("Printing…"),
    "printed": N_("Printed"),
    "waiting": N_("The printer is out of paper; please ask the staff."),
    "failed": N_("Printing failed; please ask the staff."),
}


def print_status(result: PrintResult | None) -> tuple[str, str]:
    """(status, text in the resident's language): ``pending`` until the bridge says anything."""
    status = result.status if result else "pending"
    return status, gettext(PRINT_STATUS_TEXT[status])
