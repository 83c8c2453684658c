-- bnlint's language server in Neovim's built-in LSP client (Neovim 0.7 and newer).
-- Put this in your init.lua (or `dofile` it from there); `bnlint` must be on your PATH.
local bnlint_client

vim.api.nvim_create_autocmd("FileType", {
  pattern = "python",
  callback = function(args)
    local client = bnlint_client and vim.lsp.get_client_by_id(bnlint_client)
    if not client or client.is_stopped() then
      bnlint_client = vim.lsp.start_client({
        name = "bnlint",
        cmd = { "bnlint", "server" },
        root_dir = vim.fn.getcwd(),
        -- Optional settings: select, ignore, targetRuntime, configuration, debounce (ms).
        init_options = { debounce = 100 },
      })
    end
    if bnlint_client then
      vim.lsp.buf_attach_client(args.buf, bnlint_client)
    end
  end,
})
