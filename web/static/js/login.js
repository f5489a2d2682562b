// The sign-in form: POST /auth/login as JSON, then the page asked for or the role's page.
import { HttpError, request, safeNext } from "./http.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");
const submit = document.getElementById("login-submit");

function showError(text) {
  error.textContent = text;
  error.hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const name = form.elements.name.value.trim();
  const password = form.elements.password.value;
  if (!name || !password) {
    showError("Hãy nhập tên đăng nhập và mật khẩu.");
    return;
  }
  submit.disabled = true;
  try {
    await request("POST", "/auth/login", { body: { name, password } });
    // Without a `next`, "/" sends each role to its page (web/kit.py ROLE_PAGES: one table).
    window.location.assign(safeNext(form.dataset.next, "/"));
  } catch (exc) {
    if (exc instanceof HttpError && exc.status === 401) {
      showError("Sai tên đăng nhập hoặc mật khẩu.");
    } else if (exc instanceof HttpError && exc.status === 429) {
      showError("Đăng nhập sai quá nhiều lần. Hãy thử lại sau ít phút.");
    } else if (exc instanceof HttpError) {
      showError(exc.message);
    } else {
      showError("Không kết nối được máy chủ. Hãy thử lại.");
    }
    form.elements.password.select();
  } finally {
    submit.disabled = false;
  }
});
