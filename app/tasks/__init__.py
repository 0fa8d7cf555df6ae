"""My worklist (我的待办), claiming tasks, and task forms rendered from the process's JSON Schemas."""
