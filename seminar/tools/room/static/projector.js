// The projector view: per exercise, how many students passed, as bars. No names.
"use strict";

(function () {
  const el = Room.el;

  function render(data) {
    document.getElementById("summary").textContent = data.students + " student(s) in the room";
    const box = document.getElementById("bars");
    box.replaceChildren();
    const total = Math.max(1, data.students);
    for (const chapter of data.chapters) {
      const exercises = data.exercises.filter((e) => e.chapter === chapter.id);
      if (!exercises.length) continue;
      const group = el("section", "chapter-group");
      group.appendChild(el("h2", null, chapter.title));
      for (const exercise of exercises) {
        const line = el("div", "projector-line");
        line.appendChild(el("span", "label", exercise.title));
        const track = el("div", "track big");
        const passed = el("div", "fill pass");
        passed.style.width = (100 * exercise.passed / total).toFixed(1) + "%";
        const trying = el("div", "fill fail");
        trying.style.width = (100 * exercise.failing / total).toFixed(1) + "%";
        track.append(passed, trying);
        line.appendChild(track);
        line.appendChild(el("span", "count", exercise.passed + " / " + data.students));
        group.appendChild(line);
      }
      box.appendChild(group);
    }
  }

  Room.poll("/api/projector", render, 2000);
})();
