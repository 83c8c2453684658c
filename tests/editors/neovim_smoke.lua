-- Run by tests/test_server_editors.py after editors/neovim/bnlint.lua (the README's set-up):
-- wait for bnlint's diagnostics on the open script, apply the fix code action the server offers,
-- wait for the check of the fixed text, and write what Neovim saw to $BNLINT_SMOKE_OUT as JSON.
local bufnr = vim.api.nvim_get_current_buf()
local result = { filetype = vim.bo[bufnr].filetype }

local function diagnostics()
  local seen = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    table.insert(seen, { lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col,
      severity = d.severity, source = d.source, code = d.code, message = d.message })
  end
  return seen
end

result.found = vim.wait(60000, function() return #vim.diagnostic.get(bufnr) > 0 end, 50)
result.before = diagnostics()

if result.found then
  local first = vim.diagnostic.get(bufnr)[1]
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = { start = { line = first.lnum, character = first.col }, ["end"] = { line = first.lnum, character = first.col } },
    context = { diagnostics = {} },
  }
  local responses = vim.lsp.buf_request_sync(bufnr, "textDocument/codeAction", params, 30000) or {}
  result.actions = {}
  for _, response in pairs(responses) do
    for _, action in ipairs(response.result or {}) do
      table.insert(result.actions, action.title)
      if action.title:find("^Fix BN") and action.edit and not result.applied then
        vim.lsp.util.apply_workspace_edit(action.edit, "utf-16")
        result.applied = action.title
      end
    end
  end
  result.cleared = vim.wait(60000, function() return #vim.diagnostic.get(bufnr) == 0 end, 50)
  result.lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
end

vim.fn.writefile({ vim.fn.json_encode(result) }, os.getenv("BNLINT_SMOKE_OUT"))
for _, client in pairs(vim.lsp.get_active_clients()) do client.stop() end
vim.wait(5000, function() return #vim.lsp.get_active_clients() == 0 end, 50)
vim.cmd("qall!")
