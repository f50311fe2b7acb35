"""Return dates are the first day back, in seven languages (issue 15)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from reading.dates import first_day_back

SENT = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # a Wednesday; Friday is 20 November


@pytest.mark.parametrize(
    ("text", "back"),
    [
        # the last day away named as inclusive, or a range: the next working day
        ("I'm out of the office until Friday inclusive.", date(2026, 11, 23)),
        ("Away from Nov 19 to Nov 24.", date(2026, 11, 25)),
        ("Ich bin bis einschließlich Freitag nicht im Büro.", date(2026, 11, 23)),
        ("Ich bin vom 18.11. bis 20.11. abwesend.", date(2026, 11, 23)),
        ("Je suis absent jusqu'au vendredi 20 novembre inclus.", date(2026, 11, 23)),
        ("Sarò fuori ufficio fino a venerdì 20 novembre compreso.", date(2026, 11, 23)),
        ("Estoy de vacaciones hasta el viernes 20 de noviembre incluido.", date(2026, 11, 23)),
        ("Estou de férias até sexta-feira, inclusive.", date(2026, 11, 23)),
        ("Ik ben tot en met vrijdag afwezig.", date(2026, 11, 23)),
        # the day back itself
        ("Back on the 24th.", date(2026, 11, 24)),
        ("I will be back on Monday.", date(2026, 11, 23)),
        ("Ab dem 25.11. bin ich wieder erreichbar.", date(2026, 11, 25)),
        ("De retour le 24 novembre.", date(2026, 11, 24)),
        ("Estaré de vuelta el 24 de noviembre.", date(2026, 11, 24)),
        ("Estoy fuera de la oficina hasta el lunes 23.", date(2026, 11, 23)),
        ("Rientro il 24/11.", date(2026, 11, 24)),
        ("Volto em 24/11.", date(2026, 11, 24)),
        ("Vanaf 24 november ben ik weer aanwezig.", date(2026, 11, 24)),
        ("Out of office, back 11/24.", date(2026, 11, 24)),  # US order in English
        # never a day before the message: a day of the month already gone is next month's
        ("Back on the 2nd.", date(2026, 12, 2)),
        ("Estoy fuera hasta el lunes 7.", date(2026, 12, 7)),
    ],
)
def test_the_first_day_back(text: str, back: date) -> None:
    assert first_day_back(text, sent=SENT, now=SENT) == back


def test_no_date_stated_is_none() -> None:
    assert (
        first_day_back("I am out of the office with limited access.", sent=SENT, now=SENT) is None
    )
