package app

// SharedExecutions is how many shared subscription executions a runs now.
func SharedExecutions(a *App) int { return a.sockets.ws.SharedExecutions() }
