"""The page a browser gets at GET / of slim-serve-image-classifier.

One self-contained HTML page (no scripts, styles or fonts from elsewhere, so
it works offline): choose or drop image files and it posts each, as the
raw file, to `classify` (relative, so the page works behind a path prefix
too) and shows the top classes with their probabilities, or the server's
one-line error. API clients (curl, TF Serving clients) ask for JSON and
still get the JSON endpoint list; see engines/serving.py.
"""

import html
import string


def wants_html(accept_header):
  """Whether a request's Accept header asks for a page (a browser's does:
  `text/html,...`; curl's `*/*` and API clients' do not)."""
  return 'text/html' in (accept_header or '').lower()


def render(model_path, version, serving_name, class_names, top_k):
  """The page, as UTF-8 bytes.

  Args:
    model_path, version: the SavedModel served and its version.
    serving_name: the model's name in the predict URL.
    class_names: [num_classes] output names, in output order.
    top_k: how many classes the page asks for by default.
  """
  return _PAGE.substitute(
      title=html.escape(serving_name if serving_name == 'slimvision' else
                        '%s — slimvision' % serving_name),
      name=html.escape(serving_name),
      path=html.escape(model_path),
      version=html.escape(str(version)),
      num_classes=len(class_names),
      top_k=int(top_k),
      classes=', '.join(html.escape(name) for name in class_names)
  ).encode('utf-8')


_PAGE = string.Template('''<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${title}</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 2em auto;
       max-width: 52em; padding: 0 1em; color: #222; }
h1 { font-size: 1.4em; margin-bottom: .2em; }
.muted { color: #666; }
#drop { border: 2px dashed #999; border-radius: 8px; padding: 1.5em;
        text-align: center; margin: 1em 0; }
#drop.over { border-color: #06c; background: #eef5ff; }
.result { display: flex; gap: 1em; align-items: flex-start;
          border-top: 1px solid #ddd; padding: .8em 0; }
.result img { width: 96px; height: 96px; object-fit: contain;
              background: #f4f4f4; image-rendering: pixelated; }
.result table { border-collapse: collapse; }
.result td { padding: .1em .6em .1em 0; }
.bar { background: #06c; height: .8em; display: inline-block; }
.error { color: #b00; }
code { background: #f4f4f4; padding: 0 .2em; }
</style>
</head>
<body>
<h1>${name}</h1>
<p class="muted">Serving <code>${path}</code> (version ${version}).</p>
<details><summary>${num_classes} classes</summary><p>${classes}</p></details>
<div id="drop">
  <label>Choose images <input type="file" id="files" accept="image/*"
    multiple></label>
  &nbsp; or drop them here. &nbsp;
  <label>Top <input type="number" id="topk" min="1" max="${num_classes}"
    value="${top_k}" style="width: 4em"></label>
</div>
<div id="results" aria-live="polite"></div>
<p class="muted">API: <code>POST classify</code> with an image file as the
body; TensorFlow Serving's REST predict at
<code>POST v1/models/${name}:predict</code>; this list as JSON with
<code>curl</code> on <code>/</code>.</p>
<script>
"use strict";
const results = document.getElementById("results");
const topk = document.getElementById("topk");
const drop = document.getElementById("drop");

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
  return td;
}

// One box per file, in the order given, above the earlier ones; the files
// are then classified one at a time, so a folder dropped on the page does
// not start a request per image at once.
function addBox(file, batch) {
  const box = document.createElement("div");
  box.className = "result";
  const img = document.createElement("img");
  img.alt = file.name;
  img.onload = () => URL.revokeObjectURL(img.src);
  img.onerror = () => { img.style.visibility = "hidden"; };
  img.src = URL.createObjectURL(file);
  const side = document.createElement("div");
  const title = document.createElement("div");
  title.textContent = file.name + ": waiting";
  side.appendChild(title);
  box.append(img, side);
  batch.appendChild(box);
  return {side, title};
}

async function classify(file, box) {
  box.title.textContent = file.name + ": classifying…";
  const k = Math.max(1, parseInt(topk.value, 10) ||
                        parseInt(topk.defaultValue, 10));
  let answer;
  try {
    const response = await fetch("classify?top_k=" + k,
                                 {method: "POST", body: file});
    answer = await response.json();
    if (!response.ok) throw new Error(answer.error || response.statusText);
  } catch (e) {
    box.title.textContent = file.name + ": " + e.message;
    box.title.className = "error";
    return;
  }
  box.title.textContent = file.name;
  const table = document.createElement("table");
  for (const entry of answer.top_k) {
    const row = table.insertRow();
    cell(row, entry["class"]);
    cell(row, (100 * entry.probability).toFixed(1) + "%");
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = (8 * entry.probability).toFixed(2) + "em";
    cell(row, "").appendChild(bar);
  }
  box.side.appendChild(table);
}

async function classifyAll(fileList) {
  const files = Array.from(fileList);
  const batch = document.createElement("div");
  results.prepend(batch);
  const boxes = files.map((file) => addBox(file, batch));
  for (let i = 0; i < files.length; i++) await classify(files[i], boxes[i]);
}

document.getElementById("files").addEventListener("change", (event) => {
  classifyAll(event.target.files);
  event.target.value = "";
});
drop.addEventListener("dragover", (event) => {
  event.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  classifyAll(event.dataTransfer.files);
});
</script>
</body>
</html>
''')
