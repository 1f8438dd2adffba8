// The explorer page: plain JavaScript over the JSON API (nothing fetched from elsewhere).
// Every text from the API goes through textContent, never innerHTML.
"use strict";

const PAGE = 10;
const state = {
  movie: null,          // the open movie {movie_id, title, genres, year}
  similarOffset: 0,
  opinions: new Map(),  // movie_id -> {title, liked: bool}, in the order given
  userId: null,         // "Your user id": likes are posted as feedback for this user
  forYouOffset: 0,
  stringIds: false,     // the catalogue's ids are strings (manifest catalogue.ids)
  label: "movie",       // what the catalogue holds (manifest catalogue.item_label)
  like: 5,              // the ratings a like and a dislike post, on the catalogue's scale
  dislike: 1,
};

const path = (id) => encodeURIComponent(String(id));

const $ = (id) => document.getElementById(id);

function showMessage(text) {
  const box = $("message");
  box.textContent = text;
  box.hidden = !text;
}

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, {
      ...options,
      headers: { "Content-Type": "application/json", ...(options.headers || {}) },
    });
  } catch (error) {
    showMessage(`The service did not answer (${error.message}).`);
    throw error;
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof body.detail === "string" ? body.detail
      : Array.isArray(body.detail) ? body.detail.map((e) => `${(e.loc || []).join(".")}: ${e.msg}`).join("; ")
      : response.statusText;
    showMessage(`Error ${response.status}: ${detail}`);
    throw new Error(detail);
  }
  showMessage("");
  return body;
}

function movieLabel(movie) {
  const genres = (movie.genres || []).join(", ");
  return genres ? `${movie.title} — ${genres}` : movie.title;
}

function movieItem(movie, extra) {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "movie";
  button.textContent = movieLabel(movie);
  button.addEventListener("click", () => openMovie(movie.movie_id));
  item.append(button);
  if (extra) {
    const note = document.createElement("span");
    note.className = "muted score";
    note.textContent = extra;
    item.append(note);
  }
  return item;
}

function fill(list, movies, { append = false, score = false, empty = "Nothing to show." } = {}) {
  if (!append) list.replaceChildren();
  for (const movie of movies) {
    list.append(movieItem(movie, score && movie.score !== undefined ? movie.score.toFixed(3) : ""));
  }
  if (!list.children.length) {
    const item = document.createElement("li");
    item.className = "muted";
    item.textContent = empty;
    list.append(item);
  }
}

// ---------------------------------------------------------------- search and one movie

async function search(event) {
  event.preventDefault();
  const text = $("search-input").value.trim();
  if (!text) return;
  const body = await api(`/movies?search=${encodeURIComponent(text)}&limit=20`);
  $("search-status").textContent = `${body.total} ${state.label}(s) match “${body.query}”` +
    (body.total > body.items.length ? `; the ${body.items.length} most popular:` : ":");
  fill($("search-results"), body.items, { empty: "No title matches." });
}

async function openMovie(movieId) {
  const movie = await api(`/movies/${path(movieId)}`);
  state.movie = movie;
  state.similarOffset = 0;
  $("movie-section").hidden = false;
  $("movie-title").textContent = movie.title;
  const facts = [movie.year ? `${movie.year}` : "year unknown", (movie.genres || []).join(", ")];
  if (movie.cold) facts.push("new: nobody rated it in the training data");
  $("movie-meta").textContent = facts.filter(Boolean).join(" · ");
  showOpinion();
  await loadSimilar(false);
  $("movie-title").focus();
}

async function loadSimilar(more) {
  const movie = state.movie;
  const offset = more ? state.similarOffset : 0;
  const body = await api(`/similar/${path(movie.movie_id)}?k=${PAGE}&offset=${offset}`);
  state.similarOffset = offset + body.items.length;
  fill($("similar-list"), body.items, { append: more, score: true });
  $("similar-more").disabled = body.items.length < PAGE;
}

function showOpinion() {
  const opinion = state.movie && state.opinions.get(state.movie.movie_id);
  $("like-button").setAttribute("aria-pressed", String(Boolean(opinion && opinion.liked)));
  $("dislike-button").setAttribute("aria-pressed", String(Boolean(opinion && !opinion.liked)));
}

// ---------------------------------------------------------------- likes and "for you"

async function rate(liked) {
  const movie = state.movie;
  if (!movie) return;
  if (state.userId !== null) {
    await api("/feedback", {
      method: "POST",
      body: JSON.stringify({ user_id: state.userId, movie_id: movie.movie_id, rating: liked ? state.like : state.dislike }),
    });
  }
  state.opinions.delete(movie.movie_id);  // re-rating moves it to the most recent end
  state.opinions.set(movie.movie_id, { title: movie.title, liked });
  showOpinion();
  showLikes();
  await loadForYou(false);
}

function showLikes() {
  const list = $("likes-list");
  list.replaceChildren();
  for (const [movieId, opinion] of state.opinions) {
    const item = document.createElement("li");
    item.className = opinion.liked ? "chip liked" : "chip disliked";
    const open = document.createElement("button");
    open.type = "button";
    open.className = "link";
    open.textContent = `${opinion.liked ? "Liked" : "Disliked"}: ${opinion.title}`;
    open.addEventListener("click", () => openMovie(movieId));
    item.append(open);
    list.append(item);
  }
  const likes = [...state.opinions.values()].filter((o) => o.liked).length;
  const who = state.userId === null ? "as a visitor" : `as user ${state.userId} (posted as feedback)`;
  $("likes-summary").textContent = state.opinions.size
    ? `${likes} like(s) and ${state.opinions.size - likes} dislike(s), ${who}.`
    : `Like a few ${state.label}s to start (${who}).`;
}

function filters() {
  const genre = $("genre-select").value;
  return { genre, fresh: $("new-check").checked };
}

async function loadForYou(more) {
  const offset = more ? state.forYouOffset : 0;
  const { genre, fresh } = filters();
  let body;
  if (state.userId !== null) {
    const query = new URLSearchParams({ k: PAGE, offset });
    if (genre) query.set("genres", genre);
    if (fresh) query.set("only_new", "true");
    body = await api(`/recommend/${state.userId}?${query}`);
  } else {
    const liked = [...state.opinions].filter(([, o]) => o.liked).map(([id]) => id);
    const disliked = [...state.opinions].filter(([, o]) => !o.liked).map(([id]) => id);
    body = await api("/recommend", {
      method: "POST",
      body: JSON.stringify({
        liked, exclude: disliked, k: PAGE, offset, only_new: fresh,
        ...(genre ? { genres: [genre] } : {}),
      }),
    });
  }
  state.forYouOffset = offset + body.items.length;
  $("strategy").textContent = body.strategy.replace("_", " ");
  fill($("foryou-list"), body.items, { append: more, score: true, empty: `No ${state.label} left for these filters.` });
  $("foryou-more").disabled = body.items.length < PAGE;
}

async function chooseUser(event) {
  event.preventDefault();
  const value = $("who-input").value.trim();
  state.userId = value ? (state.stringIds ? value : Number(value)) : null;
  state.opinions.clear();
  showOpinion();
  showLikes();
  await loadForYou(false);
}

// ---------------------------------------------------------------- a user of the training data

async function showUser(event) {
  event.preventDefault();
  const value = $("user-input").value.trim();
  const userId = state.stringIds ? value : Number(value);
  const [profile, recommended] = await Promise.all([
    api(`/users/${path(userId)}`), api(`/recommend/${path(userId)}?k=${PAGE}`),
  ]);
  $("user-status").textContent = profile.known
    ? `User ${userId}: ${profile.ratings_in_training} ratings in training; strategy ${recommended.strategy.replace("_", " ")}.`
    : `User ${userId} is not in the training data: ${recommended.strategy.replace("_", " ")} recommendations.`;
  const liked = profile.liked_in_training;
  fill($("user-liked"), liked.slice(0, PAGE), { empty: "No likes in training." });
  if (liked.length > PAGE) {
    const more = document.createElement("li");
    more.className = "muted";
    more.textContent = `and ${liked.length - PAGE} earlier like(s) in the model's history input`;
    $("user-liked").append(more);
  }
  fill($("user-recommended"), recommended.items, { score: true });
}

// ---------------------------------------------------------------- model card

function addFact(list, name, value) {
  const term = document.createElement("dt");
  term.textContent = name;
  const detail = document.createElement("dd");
  detail.textContent = value;
  list.append(term, detail);
}

function curvesSvg(loss, ndcg) {
  const width = 560, height = 220, pad = 40;
  const svgNs = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNs, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("class", "chart");
  const line = (values, color, label) => {
    if (!values || !values.length) return;
    const low = Math.min(...values), high = Math.max(...values);
    const x = (i) => pad + (values.length === 1 ? 0 : (i * (width - 2 * pad)) / (values.length - 1));
    const y = (v) => height - pad - ((v - low) / (high - low || 1)) * (height - 2 * pad);
    const path = document.createElementNS(svgNs, "polyline");
    path.setAttribute("points", values.map((v, i) => `${x(i)},${y(v)}`).join(" "));
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", color);
    path.setAttribute("stroke-width", "2");
    path.setAttribute("class", `curve ${label}`);
    svg.append(path);
    const text = document.createElementNS(svgNs, "text");
    text.setAttribute("x", label === "loss" ? pad : width - pad);
    text.setAttribute("y", 16);
    text.setAttribute("text-anchor", label === "loss" ? "start" : "end");
    text.setAttribute("fill", color);
    text.textContent = `${label} ${low.toFixed(4)}–${high.toFixed(4)}`;
    svg.append(text);
  };
  line(loss, "#b4462b", "loss");
  line(ndcg, "#1f6f8b", "ndcg@10");
  const axis = document.createElementNS(svgNs, "text");
  axis.setAttribute("x", width / 2);
  axis.setAttribute("y", height - 8);
  axis.setAttribute("text-anchor", "middle");
  axis.textContent = `epoch 1–${Math.max((loss || []).length, (ndcg || []).length)}`;
  svg.append(axis);
  return svg;
}

function useCatalogue(catalogue) {
  // the labels and id inputs of the live bundle's catalogue (MovieLens: movies, integer ids)
  state.stringIds = catalogue.ids === "string";
  state.label = catalogue.item_label || "movie";
  const many = `${state.label}s`;
  const article = /^[aeiou]/i.test(state.label) ? "an" : "a";
  for (const node of document.querySelectorAll(".label-a")) {
    node.textContent = `${article} ${state.label}`;
  }
  for (const node of document.querySelectorAll(".label-many")) node.textContent = many;
  for (const node of document.querySelectorAll(".label-title")) {
    node.textContent = state.label[0].toUpperCase() + state.label.slice(1);
  }
  document.title = `${state.label[0].toUpperCase() + state.label.slice(1)} recommender`;
  for (const input of document.querySelectorAll(".id-input")) {
    if (state.stringIds) {
      input.type = "text";
      input.removeAttribute("min");
      input.inputMode = "text";
      input.maxLength = 256;
    }
  }
}

async function loadModel() {
  const manifest = await api("/model");
  const catalogue = manifest.catalogue || {};
  useCatalogue(catalogue);
  if (catalogue.ids === "string") {  // MovieLens keeps 5 and 1
    const [low, high] = catalogue.rating_scale || [0, 1];
    [state.like, state.dislike] = catalogue.feedback === "implicit" ? [1, 0] : [high, low];
  }
  const data = manifest.dataset || {};
  $("model-line").textContent = `Model ${manifest.version}, trained on ${data.name} (${data.ratings} ratings).`;
  const facts = $("model-facts");
  facts.replaceChildren();
  addFact(facts, "version", manifest.version);
  addFact(facts, "created", manifest.created_at);
  addFact(facts, "training data", `${data.name}: ${data.users} users, ${data.movies} ${state.label}s, ${data.ratings} ratings; like = rating ≥ ${data.like_threshold}`);
  const validation = (manifest.metrics || {}).validation || {};
  addFact(facts, "validation", Object.entries(validation)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`).join(", ") || "–");
  const model = manifest.model || {};
  addFact(facts, "best epoch", String(model.best_epoch));
  addFact(facts, "popularity prior", String(model.popularity_prior));
  if (manifest.feedback) addFact(facts, "feedback merged", `${manifest.feedback.used} events`);
  const history = model.validation_history || {};
  $("curves").replaceChildren(curvesSvg(history.loss, history["val_ndcg@10"]));
  const body = $("model-params").tBodies[0];
  body.replaceChildren();
  for (const [name, value] of Object.entries(model.params || {})) {
    const row = body.insertRow();
    const key = document.createElement("th");
    key.scope = "row";
    key.textContent = name;
    row.append(key);
    row.insertCell().textContent = JSON.stringify(value);
  }
}

async function loadGenres() {
  const body = await api("/genres");
  const select = $("genre-select");
  for (const genre of body.genres) {
    const option = document.createElement("option");
    option.value = genre;
    option.textContent = genre;
    select.append(option);
  }
}

function guard(handler) {  // errors are already shown by api(); keep them off the console
  return (...args) => handler(...args).catch(() => {});
}

document.addEventListener("DOMContentLoaded", () => {
  $("search-form").addEventListener("submit", guard(search));
  $("like-button").addEventListener("click", guard(() => rate(true)));
  $("dislike-button").addEventListener("click", guard(() => rate(false)));
  $("similar-more").addEventListener("click", guard(() => loadSimilar(true)));
  $("who-form").addEventListener("submit", guard(chooseUser));
  $("filter-form").addEventListener("change", guard(() => loadForYou(false)));
  $("filter-form").addEventListener("submit", (event) => event.preventDefault());
  $("foryou-more").addEventListener("click", guard(() => loadForYou(true)));
  $("user-form").addEventListener("submit", guard(showUser));
  guard(loadModel)();
  guard(loadGenres)();
  guard(() => loadForYou(false))();
});
