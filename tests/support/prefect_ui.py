"""The Prefect UI as a person uses it: open a run, open its Resume form, fill it, submit,
read the toast. For the browser tests (approval, rollback, the right server).

Prefect 3.9 serves two UIs: V2 (the default: `/` redirects to `/v2/...`, React) and V1
(`/runs/...`, Vue). They differ in every selector, so each helper knows both:

| what        | V2                                     | V1                               |
|-------------|----------------------------------------|----------------------------------|
| run page    | /v2/runs/flow-run/<id>                 | /runs/flow-run/<id>              |
| state badge | main [data-slot=badge] (the first)     | .state-badge                     |
| Resume      | ⋮ ("Open menu") → menu item "Resume"   | button "Resume"                  |
| description | .prose (in the dialog's scroll box)    | article.markdown-renderer        |
| form field  | textbox named by its label             | .schema-form-property: textarea  |
| submit      | button "Resume"                        | button "Submit"                  |
| toast       | [data-sonner-toast]: data-type, [data-title] | .p-toast__card: .p-toast__message |
| deployment  | /v2/deployments/deployment/<id>: Run → Quick run → dialog (V2 only) |

A field with a default is labelled "<label> (Optional)"; helpers take the bare label.
Every read waits for its condition with a deadline (`expect`, `wait_for`): the pages render
in steps (a skeleton, then the run, then its description) and poll the API, so a value
read once, at once, is whatever step a busy machine had reached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from playwright.sync_api import Locator, Page, expect

UI = Literal["v2", "v1"]
TIMEOUT_MS = 30_000  # a page of a busy 2-core machine's Prefect server; waits end sooner
TOASTS = {"v2": "[data-sonner-toast]", "v1": ".p-toast__card"}
TOAST_TEXT = {"v2": "[data-title]", "v1": ".p-toast__message"}
DESCRIPTION = {"v2": ".prose", "v1": "article.markdown-renderer"}


@dataclass(frozen=True)
class Toast:
    """A notification the UI showed: its text and whether it said success."""

    text: str
    ok: bool


@dataclass(frozen=True)
class PrefectUI:
    """One Prefect server's UI, in one browser page."""

    page: Page
    base_url: str
    """The UI's root, e.g. http://127.0.0.1:4321 (releasegate's `ui_url`)."""
    ui: UI = "v2"

    def run_url(self, flow_run_id: str) -> str:
        prefix = "/v2" if self.ui == "v2" else ""
        return f"{self.base_url}{prefix}/runs/flow-run/{flow_run_id}"

    def open_run(self, flow_run_id: str) -> None:
        """Go to a flow run's page and wait until it shows the run's state."""
        self.page.goto(self.run_url(flow_run_id))
        self.state_badge().wait_for(timeout=TIMEOUT_MS)

    def open_home(self) -> None:
        """The UI's root, as a person types it (the server redirects to its default UI)."""
        self.page.goto(self.base_url)

    def open_runs(self) -> None:
        """The Runs list, through the sidebar."""
        self.page.get_by_role("link", name="Runs", exact=True).first.click(timeout=TIMEOUT_MS)

    def open_listed_run(self, name: str) -> None:
        """Click a flow run by its name in the list on screen; wait for its page."""
        self.page.get_by_role("link", name=name, exact=True).click(timeout=TIMEOUT_MS)
        self.state_badge().wait_for(timeout=TIMEOUT_MS)

    def state_badge(self) -> Locator:
        if self.ui == "v2":
            return self.page.locator("main [data-slot=badge]").first
        return self.page.locator(".state-badge").first

    def wait_for_state(self, name: str, timeout: float = 60) -> None:
        """Wait until the run's page shows state `name` (the pages poll the API)."""
        expect(self.state_badge()).to_have_text(name, timeout=timeout * 1000)

    def open_resume(self) -> ResumeForm:
        """Open the paused run's Resume form; wait until its fields are there."""
        if self.ui == "v2":
            self.page.get_by_role("main").get_by_role("button", name="Open menu").click()
            self.page.get_by_role("menuitem", name="Resume").click()
        else:
            self.page.get_by_role("button", name="Resume").click()
        dialog = self.page.get_by_role("dialog")
        form = ResumeForm(self.page, dialog, self.ui)
        form.fields().first.wait_for(timeout=TIMEOUT_MS)
        return form

    def toasts(self) -> Locator:
        return self.page.locator(TOASTS[self.ui])

    def open_deployment(self, deployment_id: str) -> None:
        """A deployment's page (V2), once its Run button is there."""
        assert self.ui == "v2", "deployment pages are driven in the default (V2) UI only"
        self.page.goto(f"{self.base_url}/v2/deployments/deployment/{deployment_id}")
        self.run_button().wait_for(timeout=TIMEOUT_MS)

    def run_button(self) -> Locator:
        return self.page.get_by_role("button", name="Run", exact=True)

    def quick_run(self) -> Form:
        """Run → Quick run on a deployment's page: the parameter form of the deployment
        (Prefect opens it when a parameter is required)."""
        self.run_button().click()
        self.page.get_by_role("menuitem", name="Quick run").click()
        dialog = self.page.get_by_role("dialog")
        form = Form(self.page, dialog, self.ui, submit_label="Run")
        form.fields().first.wait_for(timeout=TIMEOUT_MS)
        return form


@dataclass(frozen=True)
class Form:
    """A dialog with a schema form: a paused run's Resume form, a deployment's run form."""

    page: Page
    dialog: Locator
    ui: UI
    submit_label: str = ""

    def fields(self) -> Locator:
        return self.dialog.locator("textarea, input")

    def field(self, label: str) -> Locator:
        """The text field labelled `label` (or `label (Optional)`)."""
        name = re.compile(rf"^{re.escape(label)}( \(Optional\))?$")
        if self.ui == "v2":
            return self.dialog.get_by_role("textbox", name=name)
        labelled = self.dialog.locator(".schema-form-property").filter(
            has=self.page.locator(".schema-form-property__label", has_text=name)
        )
        return labelled.locator("textarea, input").first

    def fill(self, label: str, text: str) -> None:
        """Type `text` into a field; multi-line text (a signature) stays intact."""
        self.field(label).fill(text)

    def submit(self) -> Toast:
        """Submit the form; return the toast the UI shows for it (success or refusal)."""
        toasts = self.page.locator(TOASTS[self.ui])
        toasts.evaluate_all("els => els.forEach(e => e.setAttribute('data-rg-seen', ''))")
        label = self.submit_label or ("Resume" if self.ui == "v2" else "Submit")
        self.dialog.get_by_role("button", name=label, exact=True).click()
        toast = toasts.and_(self.page.locator(":not([data-rg-seen])")).first
        toast.wait_for(timeout=TIMEOUT_MS)
        if self.ui == "v2":
            ok = toast.get_attribute("data-type") == "success"
        else:
            ok = toast.locator(".p-toast__icon--success").count() > 0
        return Toast(text=toast.locator(TOAST_TEXT[self.ui]).inner_text().strip(), ok=ok)


@dataclass(frozen=True)
class ResumeForm(Form):
    """The Resume dialog of a paused run: the RunInput's fields beside its description."""

    def description(self) -> Locator:
        """The rendered markdown given by `RunInput.with_initial_data(description=...)`
        (wait on it with `expect(...).to_contain_text`; measure it with `.bounding_box()`)."""
        return self.dialog.locator(DESCRIPTION[self.ui]).first

    def recipe(self) -> str:
        """The first code block of the description: the signing recipe, as shown."""
        block = self.description().locator("pre").first
        block.wait_for(timeout=TIMEOUT_MS)
        return block.inner_text()
