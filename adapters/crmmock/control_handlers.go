package crmmock

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// The control plane over HTTP: each handler decodes its body, calls the Go method of the
// same name and answers JSON. Errors go to handleError (4xx with {"error", "field"}).

type okResponse struct {
	OK bool `json:"ok"`
}

var okBody = okResponse{OK: true}

type statusRequest struct {
	Name      string `json:"name"`
	Available bool   `json:"available"`
}

type sessionResponse struct {
	SessionID string `json:"sessionId"`
}

type setStatusRequest struct {
	StatusName string `json:"statusName"`
}

type setPresenceRequest struct {
	Presence string `json:"presence"`
}

type createChatResponse struct {
	ChatID string `json:"chatId"`
}

type advanceRequest struct {
	Duration string `json:"duration"` // Go duration: "90s", "2m30s"
}

type advanceResponse struct {
	Now time.Time `json:"now"`
}

// decodeAdvance reads {"duration": "90s"}; the duration must be positive.
func decodeAdvance(data []byte) (time.Duration, error) {
	var req advanceRequest
	if err := decodeJSON(data, &req, true); err != nil {
		return 0, err
	}
	if req.Duration == "" {
		return 0, &requestError{Field: "duration", Message: "duration is required (e.g. \"90s\")"}
	}
	d, err := time.ParseDuration(req.Duration)
	if err != nil {
		return 0, &requestError{Field: "duration", Message: "not a duration (e.g. \"90s\"): " + err.Error()}
	}
	if d <= 0 {
		return 0, &requestError{Field: "duration", Message: "duration must be positive"}
	}
	return d, nil
}

func (s *Server) handleReset(c echo.Context) error {
	s.Reset()
	return c.JSON(http.StatusOK, okBody)
}

func (s *Server) handleState(c echo.Context) error {
	return c.JSON(http.StatusOK, s.Dump())
}

func (s *Server) handleInjectFault(c echo.Context) error {
	var f Fault
	if err := requiredBody(c, &f); err != nil {
		return err
	}
	if err := s.InjectFault(f); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, okBody)
}

func (s *Server) handleClearFaults(c echo.Context) error {
	s.ClearFaults()
	return c.JSON(http.StatusOK, okBody)
}

func (s *Server) handleAdvance(c echo.Context) error {
	data, err := readBody(c)
	if err != nil {
		return err
	}
	d, err := decodeAdvance(data)
	if err != nil {
		return err
	}
	s.Advance(d)
	return c.JSON(http.StatusOK, advanceResponse{Now: s.clock.Now().UTC()})
}

func (s *Server) handleCreateQueue(c echo.Context) error {
	var q Queue
	if err := requiredBody(c, &q); err != nil {
		return err
	}
	if err := s.CreateQueue(param(c, "site"), q); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, okBody)
}

func (s *Server) handleAddStatus(c echo.Context) error {
	var req statusRequest
	if err := requiredBody(c, &req); err != nil {
		return err
	}
	if err := s.AddStatus(param(c, "site"), req.Name, req.Available); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, okBody)
}

func (s *Server) handleCreateAgent(c echo.Context) error {
	var a Agent
	if err := requiredBody(c, &a); err != nil {
		return err
	}
	if err := s.CreateAgent(param(c, "site"), a); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, okBody)
}

func (s *Server) handleLogin(c echo.Context) error {
	id, err := s.Login(param(c, "site"), param(c, "accountId"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sessionResponse{SessionID: id})
}

func (s *Server) handleLogout(c echo.Context) error {
	if err := s.Logout(param(c, "site"), param(c, "accountId")); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, okBody)
}

func (s *Server) handleHeartbeat(c echo.Context) error {
	if err := s.Heartbeat(param(c, "site"), param(c, "accountId")); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, okBody)
}

func (s *Server) handleSetStatus(c echo.Context) error {
	var req setStatusRequest
	if err := requiredBody(c, &req); err != nil {
		return err
	}
	if err := s.SetStatus(param(c, "site"), param(c, "accountId"), req.StatusName); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, okBody)
}

func (s *Server) handleSetPresence(c echo.Context) error {
	var req setPresenceRequest
	if err := requiredBody(c, &req); err != nil {
		return err
	}
	if err := s.SetPresence(param(c, "site"), param(c, "accountId"), req.Presence); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, okBody)
}

func (s *Server) handleCreateChat(c echo.Context) error {
	var req NewChat
	if err := requiredBody(c, &req); err != nil {
		return err
	}
	id, err := s.CreateChatWith(param(c, "site"), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, createChatResponse{ChatID: id})
}

func (s *Server) handleCustomerHeartbeat(c echo.Context) error {
	if err := s.CustomerHeartbeat(param(c, "site"), param(c, "chatId")); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, okBody)
}

func (s *Server) handleRespond(c echo.Context) error {
	var req OfferReply
	if err := requiredBody(c, &req); err != nil {
		return err
	}
	if err := s.RespondWith(param(c, "site"), param(c, "chatId"), req); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, okBody)
}

func (s *Server) handleAbandon(c echo.Context) error {
	if err := s.Abandon(param(c, "site"), param(c, "chatId")); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, okBody)
}

func (s *Server) handleConclude(c echo.Context) error {
	var req Conclusion
	if err := requiredBody(c, &req); err != nil {
		return err
	}
	if err := s.ConcludeWith(param(c, "site"), param(c, "chatId"), req); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, okBody)
}
