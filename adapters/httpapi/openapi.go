package httpapi

import "github.com/labstack/echo/v4"

// routeOpenAPI serves the OpenAPI document.
func (a *API) routeOpenAPI(e *echo.Echo) {}
