"""Every action id, callback id and block id the bot puts on a Slack surface.

Named subject-verb (Dispatch's convention): a listener is found by grepping its id.
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """`action_id` of interactive elements (draft messages, App Home, modals, pickers)."""

    DRAFT_APPROVE = "draft-approve"
    DRAFT_EDIT = "draft-edit"
    DRAFT_DISMISS = "draft-dismiss"  # static select: the reason
    DRAFT_MORE = "draft-more"  # overflow: snooze, pause deal, open in CRM
    DRAFT_EDIT_SAVE = "draft-edit-save"  # "Save" inside the Edit modal (it stays open)
    DRAFT_CANCEL = "draft-cancel"  # on an approved message that has not left
    DRAFT_RESEND = "draft-resend"  # on a held one that may already have been sent
    COMMAND_PICK = "command-pick"  # a deal chosen in the ephemeral picker
    HOME_REFRESH = "home-refresh"
    # An owner's answer to a cadence question: one button per choice, suffixed "-<choice>"
    # (action ids are unique within a block).
    QUESTION_ANSWER = "question-answer"
    HANDOFF_DONE = "handoff-done"  # "Done" on a handoff: records who acted


class View(StrEnum):
    """`callback_id` of modals."""

    DRAFT_EDIT_SUBMIT = "draft-edit-submit"  # "Save & send"
    NOTICE = "notice"  # a read-only message in a modal (refusals from App Home)


class Block(StrEnum):
    """`block_id` of input blocks whose values we read, and of the actions row."""

    DRAFT_SUBJECT = "draft-subject"
    DRAFT_BODY = "draft-body"
    DRAFT_ACTIONS = "draft-actions"
    DRAFT_EDIT_ACTIONS = "draft-edit-actions"
    QUESTION_ACTIONS = "question-actions"
    HANDOFF_ACTIONS = "handoff-actions"
    DRAFT_OVERRIDE = "draft-override"  # "Send anyway" after an edit failed the guardrails


class Input(StrEnum):
    """`action_id` of inputs inside modals (read from `view.state.values`)."""

    SUBJECT = "subject"
    BODY = "body"
    OVERRIDE = "override"


class More(StrEnum):
    """Values of the overflow menu on a draft (carried inside a `MoreRef`)."""

    SNOOZE_1D = "snooze-1d"
    SNOOZE_3D = "snooze-3d"
    SNOOZE_1W = "snooze-1w"
    PAUSE_DEAL = "pause-deal"
    OPEN_CRM = "open-crm"


COMMAND = "/followup"
