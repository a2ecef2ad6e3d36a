"""The MCP server: AI agents (and the engineers beside them) consult the knowledge base before they act.

server.py declares the tools and resources on the official SDK's MCPServer; knowledge.py and
planned_action.py are what they read, as the token's user; http.py serves it at /mcp/ from a Django view,
and the `mcp` management command over stdio. docs/mcp.md tells why it is built this way.
"""
