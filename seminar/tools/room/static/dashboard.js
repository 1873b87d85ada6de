// The instructor's dashboard: the grid of students x exercises, the causes that hold students
// back, who has been failing longest. Rebuilt from /api/dashboard every 2 seconds.
"use strict";

(function () {
  const el = Room.el, ago = Room.ago;

  function clear(id) {
    const node = document.getElementById(id);
    node.replaceChildren();
    return node;
  }

  // A cell comes as a list of the fields `cell_fields` names (null: not started).
  function asCell(fields, values) {
    if (!values) return null;
    const cell = {};
    fields.forEach((name, i) => { cell[name] = values[i]; });
    cell.state = cell.passed ? "passing" : "failing";
    try { cell.metrics = JSON.parse(cell.metrics || "{}"); } catch (error) { cell.metrics = {}; }
    return cell;
  }

  function cellTitle(student, exercise, cell, now) {
    if (!cell) return student.name + ": " + exercise.id + ": not started";
    const lines = [student.name + ": " + exercise.id + ": " + cell.state + " (" + cell.kind + ")",
                   "last check " + ago(now - cell.last_at) + " ago, " + cell.checks + " check(s), " +
                   cell.hints + " hint(s)"];
    if (cell.cause) lines.push("cause: " + cell.cause);
    const metrics = Object.entries(cell.metrics || {});
    if (metrics.length) lines.push(metrics.map(([k, v]) => k + " = " + Number(v).toPrecision(4)).join(", "));
    if (cell.state === "failing" && cell.ever_passed) lines.push("passed before");
    return lines.join("\n");
  }

  function renderGrid(data, now) {
    const table = clear("grid");
    const empty = document.getElementById("no-students");
    empty.hidden = data.students.length > 0;
    document.getElementById("join-line").textContent =
      "python -m seminar join " + window.location.origin + " " + data.code + " --name \"First L.\"";
    if (!data.students.length) return;
    const head = el("thead");
    const chapterRow = el("tr");
    chapterRow.appendChild(el("th", "corner", ""));
    const exerciseRow = el("tr");
    exerciseRow.appendChild(el("th", "corner", "student"));
    for (const chapter of data.chapters) {
      const inChapter = data.exercises.filter((e) => e.chapter === chapter.id);
      if (!inChapter.length) continue;
      const th = el("th", "chapter");
      th.appendChild(el("span", null, chapter.id));
      th.colSpan = inChapter.length;
      th.title = chapter.title;
      chapterRow.appendChild(th);
      for (const exercise of inChapter) {
        const name = el("th", "exercise");
        name.appendChild(el("span", null, exercise.name));
        name.title = exercise.id + ": " + exercise.title;
        exerciseRow.appendChild(name);
      }
    }
    head.append(chapterRow, exerciseRow);
    const body = el("tbody");
    for (const student of data.students) {
      const row = el("tr", student.left ? "left" : null);
      const name = el("th", "student", student.name + (student.left ? " (left)" : ""));
      name.title = student.last_at ? "last check " + ago(now - student.last_at) + " ago" : "no check yet";
      row.appendChild(name);
      for (const [column, exercise] of data.exercises.entries()) {
        const cell = asCell(data.cell_fields, student.cells[column]);
        const state = cell ? (cell.state === "passing" ? "cell-pass" : "cell-fail") : "cell-none";
        const td = el("td", "cell " + state);
        if (cell) {
          td.appendChild(el("span", "mark", cell.state === "passing" ? "\u2713" : "\u2717"));
          td.appendChild(el("span", "ago", ago(now - cell.last_at)));
        }
        td.title = cellTitle(student, exercise, cell, now);
        row.appendChild(td);
      }
      body.appendChild(row);
    }
    table.append(head, body);
  }

  function bar(fraction, className) {
    const track = el("div", "track");
    const fill = el("div", "fill " + className);
    fill.style.width = (100 * Math.max(0, Math.min(1, fraction))).toFixed(1) + "%";
    track.appendChild(fill);
    return track;
  }

  function renderCauses(data) {
    const box = clear("causes");
    if (!data.causes.length) {
      box.appendChild(el("p", "empty", "No failing check right now."));
      return;
    }
    const most = Math.max(...data.causes.map((e) => e.failing));
    for (const exercise of data.causes) {
      const block = el("div", "cause-block");
      block.appendChild(el("h3", null, exercise.exercise + ": " + exercise.failing + " failing"));
      for (const cause of exercise.causes) {
        const line = el("div", "bar-line");
        line.appendChild(bar(cause.students / most, "fail"));
        line.appendChild(el("span", "count", cause.students));
        line.appendChild(el("span", "label", cause.cause));
        block.appendChild(line);
      }
      box.appendChild(block);
    }
  }

  function renderStuck(data, now) {
    const box = clear("stuck");
    if (!data.stuck.length) {
      box.appendChild(el("p", "empty", "Nobody is failing right now."));
      return;
    }
    const longest = Math.max(...data.stuck.map((s) => now - s.since), 1);
    for (const item of data.stuck) {
      const line = el("div", "bar-line");
      line.appendChild(bar((now - item.since) / longest, "stuck"));
      line.appendChild(el("span", "count", ago(now - item.since)));
      const label = el("span", "label");
      label.appendChild(el("strong", null, item.name));
      label.appendChild(document.createTextNode(" " + item.exercise + ": " + item.cause));
      line.appendChild(label);
      box.appendChild(line);
    }
  }

  function render(data, skew) {
    const now = Date.now() / 1000 + skew;
    document.getElementById("code").textContent = data.code;
    document.getElementById("summary").textContent =
      data.students_in_room + " student(s) in the room, " + data.records + " check(s) received";
    if (data.projector_key) {
      document.getElementById("projector-link").href =
        "/projector#key=" + encodeURIComponent(data.projector_key);
    }
    renderGrid(data, now);
    renderCauses(data);
    renderStuck(data, now);
  }

  Room.poll("/api/dashboard", render, 2000);
})();
