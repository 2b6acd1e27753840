"""The discount codes table (issue 21): a provider's codes, percentage or fixed amount, and
where they apply. Rules about them are `checkout.discounts`'."""

import json
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from checkout import money
from checkout.extensions import db
from checkout.models import Provider, new_id, utcnow


class DiscountCode(db.Model):
    """A code a provider's customers enter to pay less: percent_off_bp (hundredths of a
    percent) or amount_off_minor in `currency`, never both."""

    __tablename__ = "discount_codes"
    __table_args__ = (sa.UniqueConstraint("provider_id", "code_key"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True, default=lambda: new_id("disc"))
    provider_id: Mapped[str] = mapped_column(sa.ForeignKey("providers.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    # The code in capitals: customers' codes match whatever case they type.
    code_key: Mapped[str] = mapped_column(sa.String(40))
    percent_off_bp: Mapped[int | None]
    amount_off_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    starts_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    max_redemptions: Mapped[int | None]
    # JSON lists of payment link ids and service ids; both empty: every order of the provider.
    applies_to_links: Mapped[str] = mapped_column(sa.Text, default="[]")
    applies_to_services: Mapped[str] = mapped_column(sa.Text, default="[]")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Bumped by every hold started on the code: the row lock that serialises its redemptions.
    version: Mapped[int] = mapped_column(default=1)

    provider: Mapped[Provider] = relationship()

    @property
    def link_ids(self) -> list[str]:
        return json.loads(self.applies_to_links or "[]")

    @property
    def service_ids(self) -> list[str]:
        return json.loads(self.applies_to_services or "[]")

    @property
    def percent_off(self) -> Decimal | None:
        if self.percent_off_bp is None:
            return None
        return Decimal(self.percent_off_bp).scaleb(-2)

    @property
    def amount_off(self) -> Decimal | None:
        if self.amount_off_minor is None or self.currency is None:
            return None
        return money.to_decimal(self.amount_off_minor, self.currency)

    @property
    def value_display(self) -> str:
        """What the code takes off, for pages: '15% off', '$5.00 off'."""
        if self.percent_off_bp is not None:
            return f"{format(self.percent_off.normalize(), 'f')}% off"
        return f"{money.display(self.amount_off_minor or 0, self.currency or 'usd')} off"
