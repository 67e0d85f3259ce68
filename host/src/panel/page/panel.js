// The Centralita panel: one page, plain ES module, no build step. It calls the same
// /api/v1 routes as any client; the session cookie authenticates it, and every change
// carries the session's CSRF token in the x-csrf-token header.

const main = document.getElementById('main');
let me = null;

// An element: h('td', {class: 'x'}, 'text', child...).
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) element.setAttribute(name, value);
  }
  element.append(...children.flat().filter((c) => c !== undefined && c !== null));
  return element;
}

class ApiError extends Error {
  constructor(message, status, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

async function api(method, path, body) {
  const headers = { 'x-csrf-token': me?.csrf ?? '' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(data?.error ?? response.statusText, response.status, data?.field);
  return data;
}

// --- login ---

function loginPage(error = '') {
  const message = h('p', { class: 'error', id: 'login-error' }, error);
  const form = h('form', { class: 'login', id: 'login-form' },
    h('h1', {}, 'Log in'),
    h('label', {}, 'Company (empty for the operator)', h('input', { name: 'company', autocomplete: 'organization' })),
    h('label', {}, 'User (extension, or operator)', h('input', { name: 'user', required: true, autocomplete: 'username' })),
    h('label', {}, 'Password', h('input', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' })),
    h('button', { class: 'primary', type: 'submit' }, 'Log in'),
    message);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    try {
      me = await api('POST', '/panel/login', values);
      render();
    } catch (error) {
      message.textContent = error.message;
    }
  });
  main.replaceChildren(h('section', {}, form));
}

// --- a list of one kind of entity, with search, rows per page and a create form ---

// `spec`: {title, load() -> rows, columns: [[key, label]], fields: [{name, label, type,
// options, required}], create(values), id(row)}.
function entityList(spec) {
  const state = { rows: [], query: '', perPage: 10, page: 0 };
  const body = h('tbody');
  const pageInfo = h('span', { class: 'muted' });
  const search = h('input', { type: 'search', placeholder: `Search ${spec.title.toLowerCase()}`, 'aria-label': 'Search' });
  const perPage = h('select', { 'aria-label': 'Rows per page' }, [10, 25, 100].map((n) => h('option', { value: n }, `${n} per page`)));
  const previous = h('button', {}, '‹');
  const next = h('button', {}, '›');

  function draw() {
    const query = state.query.toLowerCase();
    const matching = state.rows.filter((row) => !query || JSON.stringify(row).toLowerCase().includes(query));
    const pages = Math.max(1, Math.ceil(matching.length / state.perPage));
    state.page = Math.min(state.page, pages - 1);
    const shown = matching.slice(state.page * state.perPage, (state.page + 1) * state.perPage);
    body.replaceChildren(...shown.map((row) => h('tr', { 'data-id': spec.id(row) },
      spec.columns.map(([key]) => h('td', {}, String(row[key] ?? ''))))));
    if (!shown.length) body.append(h('tr', {}, h('td', { colspan: spec.columns.length, class: 'muted' }, 'Nothing here yet.')));
    pageInfo.textContent = `${matching.length} in all · page ${state.page + 1} of ${pages}`;
    previous.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
  }

  async function reload() {
    state.rows = await spec.load();
    draw();
  }

  search.addEventListener('input', () => { state.query = search.value; state.page = 0; draw(); });
  perPage.addEventListener('change', () => { state.perPage = Number(perPage.value); state.page = 0; draw(); });
  previous.addEventListener('click', () => { state.page -= 1; draw(); });
  next.addEventListener('click', () => { state.page += 1; draw(); });

  const errors = {};
  const formError = h('p', { class: 'error' });
  const form = h('form', { class: 'grid', id: `create-${spec.kind}` },
    spec.fields.map((field) => {
      errors[field.name] = h('span', { class: 'field-error', 'data-field': field.name });
      const input = field.options
        ? h('select', { name: field.name }, field.options.map((o) => h('option', { value: o }, o)))
        : h('input', { name: field.name, type: field.type ?? 'text', required: field.required });
      return h('label', {}, field.label, input, errors[field.name]);
    }),
    h('div', {}, h('button', { class: 'primary', type: 'submit' }, `Create`)));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    Object.values(errors).forEach((e) => { e.textContent = ''; });
    formError.textContent = '';
    const values = Object.fromEntries([...new FormData(form)].filter(([, v]) => v !== ''));
    try {
      await spec.create(values);
      form.reset();
      await reload();
    } catch (error) {
      const target = error.field && errors[error.field.split('.')[0]];
      (target ?? formError).textContent = error.message;
    }
  });

  reload().catch((error) => { formError.textContent = error.message; });
  return h('div', {},
    h('section', {}, h('h1', {}, spec.title),
      h('div', { class: 'tools' }, search, perPage),
      h('table', { id: `${spec.kind}-table` }, h('thead', {}, h('tr', {}, spec.columns.map(([, label]) => h('th', {}, label)))), body),
      h('div', { class: 'pager' }, pageInfo, previous, next)),
    h('section', {}, h('h2', {}, `New ${spec.singular}`), form, formError));
}

// --- the roles' pages ---

function operatorPage() {
  return entityList({
    kind: 'companies', title: 'Companies', singular: 'company',
    load: () => api('GET', '/api/v1/companies'),
    id: (company) => company.id,
    columns: [['id', 'Id'], ['name', 'Name'], ['sip_domain', 'SIP domain'], ['max_extensions', 'Max extensions'], ['time_zone', 'Time zone']],
    fields: [
      { name: 'id', label: 'Id', required: true },
      { name: 'name', label: 'Name', required: true },
      { name: 'sip_domain', label: 'SIP domain' },
      { name: 'max_extensions', label: 'Max extensions', type: 'number', required: true },
      { name: 'time_zone', label: 'Time zone', required: true },
    ],
    create: (values) => api('POST', '/api/v1/companies', { ...values, max_extensions: Number(values.max_extensions) }),
  });
}

function adminPage() {
  const users = `/api/v1/companies/${encodeURIComponent(me.company)}/users`;
  return entityList({
    kind: 'users', title: `Users of ${me.company}`, singular: 'user',
    load: () => api('GET', users),
    id: (user) => user.extension,
    columns: [['extension', 'Extension'], ['full_name', 'Name'], ['email', 'Email'], ['role', 'Role'], ['web_phone_mode', 'Web phone']],
    fields: [
      { name: 'extension', label: 'Extension', required: true },
      { name: 'full_name', label: 'Full name', required: true },
      { name: 'email', label: 'Email', type: 'email', required: true },
      { name: 'role', label: 'Role', options: ['user', 'admin'] },
      { name: 'portal_password', label: 'Portal password', type: 'password' },
    ],
    create: (values) => api('POST', users, values),
  });
}

function userPage() {
  return h('section', {},
    h('h1', {}, `Extension ${me.extension}`),
    h('p', {}, 'Your phone in the browser: ', h('a', { href: '/phone', id: 'web-phone-link' }, 'open the web phone'), '.'));
}

function render() {
  const logout = document.getElementById('logout');
  if (!me) {
    document.getElementById('who').textContent = '';
    logout.hidden = true;
    loginPage();
    return;
  }
  const who = me.role === 'operator' ? 'operator' : `${me.role} · ${me.company} · ${me.extension}`;
  document.getElementById('who').textContent = who;
  document.body.dataset.role = me.role;
  logout.hidden = false;
  const page = { operator: operatorPage, admin: adminPage, user: userPage }[me.role];
  main.replaceChildren(page());
}

document.getElementById('logout').addEventListener('click', async () => {
  await api('POST', '/panel/logout').catch(() => {});
  me = null;
  render();
});

const session = await api('GET', '/panel/me').catch(() => null);
me = session?.role ? session : null;
render();
window.panelReady = true;
