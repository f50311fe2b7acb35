"""`DigestSurface` on Slack: the weekly digest's text as one Block Kit message, then its chart
as a PNG shared in the same channel (`files_upload_v2`, through the gateway)."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot import render
from bot.gateway import GatewayError, SlackGateway, is_outage
from bot.surface import SlackReviewSurface
from flows.digest import Digest
from flows.ports import NotPosted

__all__ = ["SlackDigestSurface", "digest_message"]

HEADER = "Weekly digest"


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=render.clip(text, render.SECTION_TEXT_MAX), verbatim=True)


def digest_message(digest: Digest) -> render.Message:
    """The headline in bold and a bullet per metric, escaped like any text we did not write
    (cadence names come from the configuration)."""
    first, *rest = [render.escape(line) for line in digest.text.splitlines()] or [""]
    lines = [f"*{first}*", *(f"• {line}" for line in rest)]
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=HEADER, emoji=True)),
        SectionBlock(text=_md("\n".join(lines))),
    ]
    if digest.png is not None:
        blocks.append(ContextBlock(elements=[_md("The chart of replies per step follows.")]))
    text = render.clip(
        f"{HEADER}: {render.one_line(digest.text.splitlines()[0] if digest.text else '')}", 300
    )
    return render.check_message(render.Message(text, blocks))


class SlackDigestSurface:
    """Posts the digest with the review surface's gateway (paced, retried)."""

    def __init__(self, gateway: SlackGateway) -> None:
        self.gateway = gateway

    @classmethod
    def on(cls, review: SlackReviewSurface) -> SlackDigestSurface:
        return cls(review.gateway)

    def post_summary(self, digest: Digest, channel: str) -> str:
        message = digest_message(digest)
        try:
            posted = self.gateway.post_message(channel, message.text, message.blocks_json())
        except GatewayError as error:
            raise _not_posted("the digest", error) from error
        return posted.ts

    def post_chart(self, digest: Digest, channel: str, png: bytes) -> str:
        try:
            return self.gateway.upload_file(
                channel,
                png,
                filename=f"replies-per-step-{digest.now:%Y-%m-%d}.png",
                title=digest.chart.title,
                alt_text=f"Bar chart: {digest.chart.title}",
            )
        except GatewayError as error:
            raise _not_posted("the digest's chart", error) from error


def _not_posted(what: str, error: GatewayError) -> NotPosted:
    return NotPosted(f"{what} was not posted to Slack: {error}", outage=is_outage(error))
