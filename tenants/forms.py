from django import forms

from billing.selectors import plan_choices


class SignupForm(forms.Form):
    name = forms.CharField(label="Organisation name", max_length=200)
    subdomain = forms.CharField(
        label="Subdomain",
        max_length=63,
        help_text="3-63 lower-case letters, digits or hyphens; your address will be "
        "<subdomain>.<domain>.",
    )
    email = forms.EmailField(label="Your email")
    password = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)
    plan = forms.ChoiceField(label="Plan", choices=())

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        plan_field = self.fields["plan"]
        assert isinstance(plan_field, forms.ChoiceField)
        plan_field.choices = plan_choices()

    def add_service_errors(self, fields: dict[str, list[str]], message: str) -> None:
        added = False
        for field, errors in fields.items():
            for error in errors if isinstance(errors, list) else [errors]:
                self.add_error(field if field in self.fields else None, str(error))
                added = True
        if not added:
            self.add_error(None, message)
