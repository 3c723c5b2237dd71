Feature: Reauthorizing when QBO refuses the integration's tokens
  (docs/rules.md R22a: when QBO refuses the tokens, because the refresh token expired, the tokens
  were revoked, the user who connected lost access or the subscription is suspended, the status
  says "Updates are not syncing with QBO" and gives the reason; nothing is lost, pending changes
  wait; after the user reauthorizes, the sync continues from where it stopped, D-51.)

  Background:
    Given setup is finished for the "invoices_linked_and_held" firm

  @R22a
  Scenario Outline: When <cause>, changes wait, and after reauthorizing they arrive (interpretation D-51)
    Given a client and a customer linked at setup
    When <cause>
    And a business client "Juniper Lane Studio" with the e-mail "hello@juniperlane.example" is created in Canopy
    And the e-mail of the client linked at setup is changed in Canopy to "while.waiting@canopy.example"
    Then the Integrations page says "Updates are not syncing with QBO" because of "<reason>"
    And the changes wait in the engine's inbox
    When <undo>
    And the Admin reauthorizes QBO
    Then QBO holds one customer "Juniper Lane Studio" with the e-mail "hello@juniperlane.example"
    And the e-mail of the customer linked at setup in QBO becomes "while.waiting@canopy.example"
    And the connection is connected again and nothing waits

    Examples:
      | cause                                                       | reason                 | undo                               |
      | the company revokes the integration's QBO tokens            | revoked                | nothing needs undoing              |
      | the QBO user who connected loses access to the company      | access_removed         | the QBO user is given access again |
      | the QBO subscription is suspended                           | subscription_suspended | the QBO subscription is active again |
      | 100 days pass without the integration refreshing its tokens | expired                | nothing needs undoing              |

  @R22a
  Scenario: A customer created in QBO while the tokens are revoked arrives after reauthorizing, through QBO's change data capture
    When the company revokes the integration's QBO tokens
    And a business client "Juniper Lane Studio" with the e-mail "hello@juniperlane.example" is created in Canopy
    And an individual customer "Odessa Whitcombe" with the e-mail "odessa@whitcombe.example" is created in QBO
    Then the Integrations page says "Updates are not syncing with QBO" because of "revoked"
    When the Admin reauthorizes QBO
    And the engine reconciles with QBO's change data capture and Canopy's change feed
    Then Canopy holds one client "Odessa Whitcombe" with the e-mail "odessa@whitcombe.example", an individual
    And QBO holds one customer "Juniper Lane Studio" with the e-mail "hello@juniperlane.example"
    And the connection is connected again and nothing waits
