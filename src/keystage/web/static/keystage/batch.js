// An upload's page while its files are imported: asks the batch's status every 2 seconds
// and puts it in the page's status (role="status", aria-live), which screen readers read out,
// instead of reloading the whole page. When the import has finished, the finished page's
// parts (the summary, the table of files, what to do next) replace the running ones.
// Without JavaScript the page reloads itself (a meta refresh inside <noscript>).
const status = document.querySelector("[data-batch-status]");
const EVERY_MS = 2000;

async function showFinished() {
  const response = await fetch(window.location.href, { credentials: "same-origin", cache: "no-store" });
  if (!response.ok) throw new Error(`page: ${response.status}`);
  const finished = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const part of document.querySelectorAll("[data-batch-part]")) {
    const fresh = finished.getElementById(part.id);
    if (fresh) part.replaceWith(document.importNode(fresh, true));
  }
  const title = finished.querySelector("title");
  if (title) document.title = title.textContent;
}

if (status) {
  const url = status.dataset.batchStatus;
  const filesImported = document.getElementById("batch-files-imported");
  const results = document.getElementById("batch-results");
  let failures = 0;

  const poll = async () => {
    try {
      const response = await fetch(url, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
      if (!response.ok) throw new Error(`status: ${response.status}`);
      const batch = await response.json();
      failures = 0;
      // Only changed words are set: the same text again would be read out again.
      if (status.textContent !== batch.message) status.textContent = batch.message;
      if (filesImported) filesImported.textContent = batch.files_imported;
      if (results) results.textContent = batch.results;
      if (batch.finished) {
        await showFinished();
        status.removeAttribute("data-batch-status");
        return;
      }
    } catch (error) {
      failures += 1;
      if (failures >= 5) {
        // The server is not answering: fall back to what works without JavaScript.
        window.location.reload();
        return;
      }
    }
    window.setTimeout(poll, EVERY_MS);
  };
  window.setTimeout(poll, EVERY_MS);
}
