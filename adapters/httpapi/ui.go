package httpapi

import "github.com/labstack/echo/v4"

// routeMediabarUI serves the reference media bar under /mediabar/.
func (a *API) routeMediabarUI(e *echo.Echo) {}
