// Starts GOV.UK Frontend's components. A file of our own, not an inline script, so the
// Content-Security-Policy needs no exception for it. Every page also works without it.
import { initAll } from "../govuk/govuk-frontend.min.js";

initAll();
