Feature: Signing in to QBO and the data-sharing agreement
  Enter your QBO login information in the pop-up window. Click Sign In. Read and understand the
  data-sharing agreement. Click Connect to continue.
  (docs/rules.md R4: when the user declines, cancels, or QBO's answer is wrong, reused or cannot be
  exchanged, the engine keeps no connection and no tokens, and tells the user why.)

  Background:
    Given the firm and QBO company of the "default" scenario

  @R4
  Scenario: Signing in through QBO's pages and accepting the agreement connects the account
    When the Admin clicks Connect
    And the Admin signs in to QBO in the pop-up, chooses the company and clicks Connect
    Then QBO sends the browser back with "code, state, realmId"
    When QBO sends the browser back to Canopy
    Then Canopy shows the data-sharing agreement
    When the Admin accepts the data-sharing agreement
    Then the firm is connected to its QBO company by the Admin
    And Canopy holds one active integration for the firm
    And Canopy's QBO app holds a live grant for the company

  @R4
  Scenario: Declining the agreement revokes the new QBO tokens and stores nothing
    When the Admin clicks Connect
    And the Admin signs in to QBO in the pop-up, chooses the company and clicks Connect
    And QBO sends the browser back to Canopy
    And the Admin declines the data-sharing agreement
    Then no QBO connection is stored for the firm
    And QBO has revoked every token it gave Canopy's QBO app for the company
    And Canopy holds no integration for the firm
    When the Admin clicks Connect again
    Then QBO's sign-in pop-up opens for Canopy's QBO app

  @R4
  Scenario Outline: Cancelling the QBO sign-in on the <page> page stores nothing and says why
    When the Admin clicks Connect
    And the Admin cancels the QBO sign-in on the <page> page
    Then QBO sends the browser back with "error, state"
    When QBO sends the browser back to Canopy
    Then Canopy refuses QBO's answer with HTTP 400 and the reason "sign_in_cancelled"
    And no QBO connection is stored for the firm
    When the Admin clicks Connect again
    Then QBO's sign-in pop-up opens for Canopy's QBO app

    Examples:
      | page    |
      | sign-in |
      | connect |

  @R4
  Scenario: An answer from QBO that was already used is refused
    When the Admin clicks Connect
    And the Admin signs in to QBO in the pop-up, chooses the company and clicks Connect
    And QBO sends the browser back to Canopy
    And the same answer from QBO reaches Canopy again
    Then Canopy refuses QBO's answer with HTTP 409 and the reason "state_reused"

  @R4
  Scenario: An answer with a state Canopy never issued is refused, stores nothing, and the sign-in stays open (interpretation D-42)
    When the Admin clicks Connect
    And the Admin signs in to QBO in the pop-up, chooses the company and clicks Connect
    And QBO's answer reaches Canopy with a state Canopy never issued
    Then Canopy refuses QBO's answer with HTTP 409 and the reason "state_mismatch"
    And no QBO connection is stored for the firm
    When QBO sends the browser back to Canopy
    Then Canopy shows the data-sharing agreement

  @R4
  Scenario: A code QBO will not exchange stores nothing and says why
    When the Admin clicks Connect
    And an answer with a code QBO never issued reaches Canopy
    Then Canopy refuses QBO's answer with HTTP 502 and the reason "token_exchange_failed"
    And no QBO connection is stored for the firm

  @R4a
  Scenario: While the account is connected, every other connect attempt is refused
    Given the Admin has connected the firm to its QBO company
    And a second Admin has joined the firm
    When the second Admin opens the Integrations page
    Then the QBO Connect button is greyed out because of "already_connected"
    When the second Admin clicks Connect
    Then the connect attempt is refused with HTTP 409 and the reason "already_connected"
    When the Admin clicks Connect again
    Then the connect attempt is refused with HTTP 409 and the reason "already_connected"
    And the firm is connected to its QBO company by the Admin
