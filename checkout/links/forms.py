"""Forms customers fill on payment-link pages."""

from flask_wtf import FlaskForm
from wtforms import IntegerField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class UnlockForm(FlaskForm):
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class PayForm(FlaskForm):
    quantity = IntegerField("Quantity", validators=[Optional(), NumberRange(min=1, max=10_000)])
    # Issue 21: a chosen amount's field (its label names the range) and a discount code.
    amount = StringField("Amount", validators=[Optional(), Length(max=40)])
    discount_code = StringField("Discount code", validators=[Optional(), Length(max=40)])
