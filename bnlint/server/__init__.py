"""`bnlint server`: the Language Server Protocol server, small handlers over `bnlint.api`.

Only `command` may be imported without pygls installed; the other modules need it.
"""
